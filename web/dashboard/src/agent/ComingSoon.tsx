import type { ReactNode } from "react";

/** A placeholder for an agent section whose API is not there yet. */
export function ComingSoon({ children }: { children: ReactNode }) {
  return (
    <div className="coming-soon">
      <span className="badge badge--info">Coming soon</span>
      <p className="muted">{children}</p>
    </div>
  );
}
