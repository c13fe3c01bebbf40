import { useEffect } from "react";

/** Sets the document title to "`title` · Vocable". */
export function useTitle(title: string): void {
  useEffect(() => {
    document.title = title ? `${title} · Vocable` : "Vocable";
  }, [title]);
}
