import { createContext, useContext } from "react";
import type { User } from "./api";

export interface SessionContextValue {
  user: User;
  /** Failed sign-ins on this account between the last sign-in and this one. */
  failedAttempts: number;
  signOut: () => Promise<void>;
}

export const SessionContext = createContext<SessionContextValue | null>(null);

/** The signed-in user and the sign-out action; only inside the signed-in shell. */
export function useSession(): SessionContextValue {
  const value = useContext(SessionContext);
  if (!value) throw new Error("useSession() outside the signed-in shell");
  return value;
}
