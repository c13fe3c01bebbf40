import { fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { describe, expect, it, vi } from "vitest";
import { UrlField } from "../src/components/UrlField";

type Props = Parameters<typeof UrlField>[0];

function renderField(extra: Partial<Props> = {}) {
  const onSubmit = vi.fn((event: { preventDefault: () => void }) => event.preventDefault());
  const onChange = vi.fn();
  function Harness() {
    const [value, setValue] = useState("");
    return (
      <UrlField
        label="Clip URL"
        hint="http(s) only."
        placeholder="https://example.com/clip.wav"
        value={value}
        onChange={(next) => {
          setValue(next);
          onChange(next);
        }}
        onSubmit={onSubmit}
        submitLabel="Save URL"
        busyLabel="Saving…"
        busy={false}
        banner={null}
        notice=""
        {...extra}
      />
    );
  }
  render(<Harness />);
  return { onSubmit, onChange, input: screen.getByLabelText("Clip URL") as HTMLInputElement };
}

describe("UrlField", () => {
  it("renders a labelled URL input with its hint and hands keystrokes and submits over", () => {
    const { input, onChange, onSubmit } = renderField();
    expect(input.type).toBe("url");
    expect(input.getAttribute("inputmode")).toBe("url");
    expect(input.placeholder).toBe("https://example.com/clip.wav");
    expect(input.maxLength).toBe(2048);
    expect(document.getElementById(input.getAttribute("aria-describedby") ?? "")?.textContent).toBe("http(s) only.");
    expect(input.getAttribute("aria-invalid")).toBeNull();
    fireEvent.change(input, { target: { value: "https://example.com/a.wav" } });
    expect(onChange).toHaveBeenCalledWith("https://example.com/a.wav");
    expect(input.value).toBe("https://example.com/a.wav");
    fireEvent.click(screen.getByRole("button", { name: "Save URL" }));
    expect(onSubmit).toHaveBeenCalledTimes(1);
  });

  it("wires an error to the input and shows a banner and status line", () => {
    const { input } = renderField({ error: "Not audio", banner: "Try again shortly", notice: "Saved." });
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(screen.getByText("Not audio").id).toBe(input.getAttribute("aria-describedby")?.split(" ")[0]);
    expect(screen.getByRole("alert").textContent).toContain("Try again shortly");
    expect(screen.getByRole("status").textContent).toBe("Saved.");
  });

  it("disables the button and shows the busy label while busy", () => {
    renderField({ busy: true });
    const button = screen.getByRole("button", { name: "Saving…" }) as HTMLButtonElement;
    expect(button.disabled).toBe(true);
  });
});
