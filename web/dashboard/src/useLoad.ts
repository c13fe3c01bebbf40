import { useCallback, useEffect, useState } from "react";

export type Load<T> =
  | { state: "loading" }
  | { state: "ready"; data: T }
  | { state: "failed"; error: unknown };

/** Runs `loader` on mount and whenever `deps` change; `reload()` runs it again. */
export function useLoad<T>(loader: () => Promise<T>, deps: readonly unknown[]): [Load<T>, () => void, (data: T) => void] {
  const [result, setResult] = useState<Load<T>>({ state: "loading" });
  const [round, setRound] = useState(0);

  useEffect(() => {
    let live = true;
    setResult((prev) => (prev.state === "ready" ? prev : { state: "loading" }));
    loader().then(
      (data) => live && setResult({ state: "ready", data }),
      (error: unknown) => live && setResult({ state: "failed", error }),
    );
    return () => {
      live = false;
    };
    // the caller lists what the loader depends on
  }, [...deps, round]);

  const reload = useCallback(() => setRound((n) => n + 1), []);
  const replace = useCallback((data: T) => setResult({ state: "ready", data }), []);
  return [result, reload, replace];
}
