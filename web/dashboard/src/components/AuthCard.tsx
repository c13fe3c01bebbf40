import type { ReactNode } from "react";
import { BrandMark } from "./BrandMark";

/** The signed-out pages' card: sign-in, an invitation link, a password reset link. */
export function AuthCard({ title, intro, children }: { title: string; intro?: ReactNode; children: ReactNode }) {
  return (
    <main className="login">
      <div className="login__card">
        <div className="login__brand">
          <BrandMark />
          <span>Vocable</span>
        </div>
        <h1>{title}</h1>
        {intro ? <p className="muted">{intro}</p> : null}
        {children}
      </div>
    </main>
  );
}
