// Copies the stylesheet next to the compiled modules: `@vocable/react/styles.css` maps to dist/styles.css.
import { copyFileSync, mkdirSync } from "node:fs";

const source = new URL("../src/styles.css", import.meta.url);
const target = new URL("../dist/styles.css", import.meta.url);
mkdirSync(new URL("../dist/", import.meta.url), { recursive: true });
copyFileSync(source, target);
