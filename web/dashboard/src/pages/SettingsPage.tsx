import { PageHeader } from "../components/PageHeader";
import { Link, useLocation } from "../router";
import { useTitle } from "../useTitle";
import { DeveloperSettings } from "./DeveloperSettings";

const TABS = [{ id: "developer", label: "Developer" }] as const;

/** `/settings?tab=…`: one tab today (developer: API keys); more slot in beside it. */
export function SettingsPage() {
  useTitle("Developer settings");
  const { search } = useLocation();
  const requested = search.get("tab");
  const tab = TABS.find((t) => t.id === requested)?.id ?? "developer";
  return (
    <>
      <PageHeader title="Settings" />
      <nav aria-label="Settings sections" className="subnav">
        {TABS.map((t) => (
          <Link key={t.id} to={`/settings?tab=${t.id}`} className="subnav__link" aria-current={t.id === tab ? "page" : undefined}>
            {t.label}
          </Link>
        ))}
      </nav>
      {tab === "developer" ? <DeveloperSettings /> : null}
    </>
  );
}
