import { PageHeader } from "../components/PageHeader";
import { Link } from "../router";
import { useTitle } from "../useTitle";

export function NotFoundPage() {
  useTitle("Not found");
  return (
    <>
      <PageHeader title="Page not found" description="There is nothing at this address." />
      <p>
        <Link to="/agents">Go to your agents</Link>
      </p>
    </>
  );
}
