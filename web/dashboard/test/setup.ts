import { cleanup } from "@testing-library/react";
import { afterEach, beforeEach } from "vitest";
import { setUnauthorizedHandler } from "../src/api";

// jsdom does not implement scrolling; navigation scrolls to the top
window.scrollTo = () => undefined;

beforeEach(() => {
  window.history.replaceState(null, "", "/");
});

afterEach(() => {
  cleanup();
  setUnauthorizedHandler(null);
  for (const cookie of document.cookie.split(";")) {
    const name = cookie.split("=")[0]?.trim();
    if (name) document.cookie = `${name}=; expires=Thu, 01 Jan 1970 00:00:00 GMT; path=/`;
  }
});
