import { useEffect, useLayoutEffect, useRef, type RefObject } from "react";

// useLayoutEffect warns during server rendering in React 18; there is no layout to wait for there.
const useIsomorphicLayoutEffect = typeof window === "undefined" ? useEffect : useLayoutEffect;

/**
 * A ref that always holds the latest committed `value`, so stable callbacks and event
 * listeners can read current props without being re-created.
 */
export function useLatest<T>(value: T): RefObject<T> {
  const ref = useRef(value);
  useIsomorphicLayoutEffect(() => {
    ref.current = value;
  });
  return ref;
}
