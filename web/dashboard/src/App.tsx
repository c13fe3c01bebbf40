import { useCallback, useEffect, useMemo, useState } from "react";
import { ApiError, getMe, logout, setUnauthorizedHandler, type User } from "./api";
import { Layout } from "./components/Layout";
import { LoadFailed, Loading } from "./components/States";
import { AgentPage } from "./pages/AgentPage";
import { AgentsPage } from "./pages/AgentsPage";
import { CallPage } from "./pages/CallPage";
import { CallsPage } from "./pages/CallsPage";
import { AcceptInvitePage, ResetPasswordPage } from "./pages/LinkPages";
import { LoginPage } from "./pages/LoginPage";
import { AccountPage } from "./pages/AccountPage";
import { MembersPage } from "./pages/MembersPage";
import { NotFoundPage } from "./pages/NotFoundPage";
import { SettingsPage } from "./pages/SettingsPage";
import { matchPath, navigate, useLocation } from "./router";
import { SessionContext, type SessionContextValue } from "./session";

type Auth =
  | { state: "checking" }
  | { state: "in"; user: User; failedAttempts?: number }
  | { state: "out" }
  | { state: "unreachable"; error: unknown };

const HOME = "/agents";
const LINK_PAGES = ["/accept-invite", "/reset-password"];

/** Where to go after signing in: only a path on this site, never another origin. */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/login") ? next : HOME;
}

function SignedInRoutes({ pathname }: { pathname: string }) {
  let params: Record<string, string> | null;
  if (pathname === "/agents") return <AgentsPage />;
  if (pathname === "/agents/new") return <AgentPage key="new" agentId={null} />;
  if ((params = matchPath("/agents/:id", pathname))) return <AgentPage key={params["id"]} agentId={params["id"] ?? ""} />;
  if (pathname === "/calls") return <CallsPage />;
  if ((params = matchPath("/calls/:id", pathname))) return <CallPage key={params["id"]} sessionId={params["id"] ?? ""} />;
  if (pathname === "/settings") return <SettingsPage />;
  if (pathname === "/members") return <MembersPage />;
  if (pathname === "/account") return <AccountPage />;
  return <NotFoundPage />;
}

/** The whole dashboard: checks the session, then routes between the sign-in page and the app. */
export function App() {
  const location = useLocation();
  const [auth, setAuth] = useState<Auth>({ state: "checking" });

  const check = useCallback(() => {
    setAuth({ state: "checking" });
    getMe().then(
      (user) => setAuth({ state: "in", user }),
      (error: unknown) =>
        setAuth(error instanceof ApiError && error.status === 401 ? { state: "out" } : { state: "unreachable", error }),
    );
  }, []);

  useEffect(check, [check]);
  useEffect(() => {
    setUnauthorizedHandler(() => setAuth({ state: "out" }));
    return () => setUnauthorizedHandler(null);
  }, []);

  // Redirects: signed out → /login?next=…, signed in on /login or / → where they were going.
  // The pages of invitation and reset links are for people who are not signed in.
  const onLogin = location.pathname === "/login";
  const onLinkPage = LINK_PAGES.includes(location.pathname);
  useEffect(() => {
    if (onLinkPage) return;
    if (auth.state === "out" && !onLogin) {
      const next = location.href === "/" ? "" : `?next=${encodeURIComponent(location.href)}`;
      navigate(`/login${next}`, { replace: true });
    } else if (auth.state === "in" && (onLogin || location.pathname === "/")) {
      navigate(onLogin ? safeNext(location.search.get("next")) : HOME, { replace: true });
    }
  }, [auth.state, onLogin, onLinkPage, location.href, location.pathname, location.search]);

  const session = useMemo<SessionContextValue | null>(() => {
    if (auth.state !== "in") return null;
    return {
      user: auth.user,
      failedAttempts: auth.failedAttempts ?? 0,
      signOut: async () => {
        try {
          await logout();
        } catch {
          // Signed out on the server or not: the cookie is gone or expired either way.
        }
        navigate("/login", { replace: true });
        setAuth({ state: "out" });
      },
    };
  }, [auth]);

  if (location.pathname === "/accept-invite") {
    return (
      <AcceptInvitePage
        onSignedIn={(user) => {
          setAuth({ state: "in", user });
          navigate(HOME, { replace: true });
        }}
      />
    );
  }
  if (location.pathname === "/reset-password") return <ResetPasswordPage />;
  if (auth.state === "checking") return <Loading label="Loading Vocable…" />;
  if (auth.state === "unreachable") {
    return (
      <main className="centered">
        <LoadFailed error={auth.error} onRetry={check} />
      </main>
    );
  }
  if (auth.state === "out") {
    return onLogin ? <LoginPage onSignedIn={(user, failedAttempts) => setAuth({ state: "in", user, failedAttempts })} /> : <Loading />;
  }
  if (!session || onLogin) return <Loading />;
  return (
    <SessionContext.Provider value={session}>
      <Layout>
        <SignedInRoutes pathname={location.pathname} />
      </Layout>
    </SessionContext.Provider>
  );
}
