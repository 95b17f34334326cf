import { useEffect } from "react";

/** "iris · Raylane" in the tab and the history list. */
export function useDocumentTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Raylane`;
  }, [title]);
}
