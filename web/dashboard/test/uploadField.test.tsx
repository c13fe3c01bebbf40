import { fireEvent, render, screen } from "@testing-library/react";
import { describe, expect, it, vi } from "vitest";
import { ApiError } from "../src/api";
import { UploadField } from "../src/components/UploadField";

interface Stored {
  name: string;
}

function renderField(upload: (file: File) => Promise<Stored>, extra: Partial<Parameters<typeof UploadField<Stored>>[0]> = {}) {
  const onUploaded = vi.fn();
  render(
    <UploadField<Stored>
      label="Clip"
      hint="WAV only."
      accept=".wav"
      submitLabel="Upload clip"
      missingFile="Choose a clip first"
      upload={upload}
      uploadedNotice={(stored) => `${stored.name} stored.`}
      onUploaded={onUploaded}
      {...extra}
    />,
  );
  return { onUploaded, input: screen.getByLabelText("Clip") as HTMLInputElement };
}

const wav = (name = "me.wav", bytes = 4) => new File(["x".repeat(bytes)], name, { type: "audio/wav" });

describe("UploadField", () => {
  it("asks for a file before sending anything", () => {
    const upload = vi.fn();
    const { input } = renderField(upload);
    expect(input.getAttribute("accept")).toBe(".wav");
    fireEvent.click(screen.getByRole("button", { name: "Upload clip" }));
    expect(screen.getByText("Choose a clip first").id).toBe(input.getAttribute("aria-describedby")?.split(" ")[0]);
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(upload).not.toHaveBeenCalled();
  });

  it("runs the caller's check on the chosen file first", () => {
    const upload = vi.fn();
    const { input } = renderField(upload, { validate: (file) => (file.size > 3 ? "Too big" : undefined) });
    fireEvent.change(input, { target: { files: [wav("big.wav", 10)] } });
    fireEvent.click(screen.getByRole("button", { name: "Upload clip" }));
    expect(screen.getByText("Too big")).toBeTruthy();
    expect(upload).not.toHaveBeenCalled();
  });

  it("uploads, announces the result in a status line and hands it over", async () => {
    const upload = vi.fn(async (file: File) => ({ name: file.name }));
    const { input, onUploaded } = renderField(upload);
    fireEvent.change(input, { target: { files: [wav()] } });
    fireEvent.click(screen.getByRole("button", { name: "Upload clip" }));
    const notice = await screen.findByText("me.wav stored.");
    expect(notice.getAttribute("role")).toBe("status");
    expect(onUploaded).toHaveBeenCalledWith({ name: "me.wav" });
    expect(upload.mock.calls[0]?.[0]).toBeInstanceOf(File);
    // the file is forgotten: submitting again asks for a new one
    fireEvent.click(screen.getByRole("button", { name: "Upload clip" }));
    expect(screen.getByText("Choose a clip first")).toBeTruthy();
  });

  it("shows a refusal on `file` next to the input and anything else in a banner", async () => {
    let attempt = 0;
    const upload = vi.fn(async (): Promise<Stored> => {
      attempt += 1;
      if (attempt === 1) throw new ApiError(422, "invalid_audio", "Bad clip", [{ field: "file", message: "too short" }]);
      throw new ApiError(503, "unavailable", "Try again shortly");
    });
    const { input } = renderField(upload);
    fireEvent.change(input, { target: { files: [wav()] } });
    fireEvent.click(screen.getByRole("button", { name: "Upload clip" }));
    await screen.findByText("too short");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(screen.queryByRole("alert")).toBeNull();

    fireEvent.change(input, { target: { files: [wav()] } });
    expect(input.getAttribute("aria-invalid")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Upload clip" }));
    expect((await screen.findByRole("alert")).textContent).toContain("Try again shortly");
  });

  it("lets the caller decide how errors are shown", async () => {
    const upload = vi.fn(async (): Promise<Stored> => {
      throw new ApiError(413, "too_large", "Over the limit");
    });
    const { input } = renderField(upload, { errorsOf: (error) => ({ fields: { file: (error as Error).message }, banner: null }) });
    fireEvent.change(input, { target: { files: [wav()] } });
    fireEvent.click(screen.getByRole("button", { name: "Upload clip" }));
    await screen.findByText("Over the limit");
    expect(input.getAttribute("aria-invalid")).toBe("true");
  });
});
