import { useEffect, useRef, useState, type ReactNode } from "react";
import { Link, useLocation } from "../router";
import { BrandMark } from "./BrandMark";
import { useSession } from "../session";

const NAV = [
  { to: "/agents", label: "Agents", match: "/agents" },
  { to: "/calls", label: "Calls", match: "/calls" },
  { to: "/settings?tab=developer", label: "Developer settings", match: "/settings" },
  { to: "/members", label: "Members", match: "/members" },
] as const;

function initials(email: string): string {
  const name = email.split("@")[0] ?? "";
  const parts = name.split(/[._-]+/).filter(Boolean);
  const letters = parts.length > 1 ? (parts[0]?.[0] ?? "") + (parts[1]?.[0] ?? "") : name.slice(0, 2);
  return letters.toUpperCase() || "?";
}

function AccountMenu() {
  const { user, signOut } = useSession();
  const [busy, setBusy] = useState(false);
  return (
    <div className="account" role="group" aria-label="Account">
      <span className="account__avatar" aria-hidden="true">
        {initials(user.email)}
      </span>
      <span className="account__who">
        <Link to="/account" className="account__email" title="Your account: password">
          {user.email}
        </Link>
        <span className="account__org">
          {user.org_name} · {user.role}
        </span>
      </span>
      <button
        type="button"
        className="button button--secondary button--small"
        disabled={busy}
        onClick={() => {
          setBusy(true);
          void signOut().finally(() => setBusy(false));
        }}
      >
        Sign out
      </button>
    </div>
  );
}

/** Tells the owner of the account how many wrong passwords were tried since their last visit. */
function FailedSignIns() {
  const { failedAttempts } = useSession();
  const [dismissed, setDismissed] = useState(false);
  if (failedAttempts === 0 || dismissed) return null;
  const times = failedAttempts === 1 ? "once" : `${failedAttempts} times`;
  return (
    <div className="banner banner--warning" role="status">
      <span>
        A wrong password was entered for your account {times} since your last sign-in. If that was not
        you, someone may be trying to guess it.
      </span>
      <button type="button" className="button button--ghost button--small" onClick={() => setDismissed(true)}>
        Dismiss
      </button>
    </div>
  );
}

/** The signed-in frame: a left navigation, a header with the account, and the page. */
export function Layout({ children }: { children: ReactNode }) {
  const { pathname } = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  const firstPath = useRef(pathname);
  // After a client-side navigation, start keyboard and screen-reader users at the new page.
  useEffect(() => {
    if (pathname !== firstPath.current) mainRef.current?.focus({ preventScroll: true });
    firstPath.current = "";
  }, [pathname]);
  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <aside className="sidebar">
        <Link to="/agents" className="brand">
          <BrandMark />
          <span>Vocable</span>
        </Link>
        <nav aria-label="Main">
          <ul className="nav">
            {NAV.map((item) => {
              const current = pathname === item.match || pathname.startsWith(`${item.match}/`);
              return (
                <li key={item.to}>
                  <Link to={item.to} className="nav__link" aria-current={current ? "page" : undefined}>
                    {item.label}
                  </Link>
                </li>
              );
            })}
          </ul>
        </nav>
      </aside>
      <div className="shell__body">
        <header className="topbar">
          <AccountMenu />
        </header>
        <main id="main" ref={mainRef} className="main" tabIndex={-1}>
          <FailedSignIns />
          {children}
        </main>
      </div>
    </div>
  );
}
