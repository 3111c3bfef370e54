import { existsSync } from "node:fs";
import { aptInstall } from "./internal/databases.ts";

/** Debian's Chromium: browser tests drive this binary and never download one. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Flags of a headless run that stays off the network apart from the pages it is pointed at. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * The path of Debian's `chromium`, installed with apt-get first when it is missing and this runs as root (as the
 * other Debian packages of the tests are); otherwise the error says how to install it.
 */
export function chromiumExecutable(): string {
  if (!existsSync(CHROMIUM_PATH)) {
    if (process.getuid?.() !== 0) {
      throw new Error(
        `browser tests: ${CHROMIUM_PATH} is missing; install it with \`sudo apt-get install -y chromium\` (or run the tests as root, which installs it)`,
      );
    }
    aptInstall("chromium", "browser tests", "this machine");
  }
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`browser tests: ${CHROMIUM_PATH} is missing after installing the Debian chromium package`);
  }
  return CHROMIUM_PATH;
}
