import { vi } from "vitest";

/** What the dashboard last passed to VoiceCallPanel, for assertions. */
export const callPanel: { props: Record<string, unknown> | null } = { props: null };

// The real panel joins LiveKit rooms; these tests only check what the dashboard hands it.
vi.mock("@vocable/react", () => ({
  VoiceCallPanel: (props: Record<string, unknown>) => {
    callPanel.props = props;
    return <div data-testid="voice-call-panel">call panel</div>;
  },
}));
vi.mock("@vocable/react/styles.css", () => ({}));
