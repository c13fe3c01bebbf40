import { useState } from "react";

/**
 * An item listed with an on/off switch and a delete button (an MCP server, an HTTP tool):
 * what is being done to it ("switch", "delete" or null) and the last failure's message.
 */
export function useSwitchAndDelete<T>({
  what,
  toggle,
  remove,
  onSaved,
  onDeleted,
}: {
  /** The item, as the error messages name it ("server", "tool"). */
  what: string;
  toggle: (on: boolean) => Promise<T>;
  remove: () => Promise<void>;
  onSaved: (item: T) => void;
  onDeleted: () => void;
}) {
  const [busy, setBusy] = useState<"switch" | "delete" | null>(null);
  const [error, setError] = useState<string | null>(null);
  return {
    busy,
    error,
    toggle: async (on: boolean) => {
      setBusy("switch");
      setError(null);
      try {
        onSaved(await toggle(on));
      } catch (e) {
        setError(e instanceof Error ? e.message : `Could not update the ${what}`);
      } finally {
        setBusy(null);
      }
    },
    remove: async () => {
      setBusy("delete");
      setError(null);
      try {
        await remove();
        onDeleted();
      } catch (e) {
        setError(e instanceof Error ? e.message : `Could not delete the ${what}`);
        setBusy(null);
      }
    },
  };
}
