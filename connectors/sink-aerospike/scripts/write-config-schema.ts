// Writes dist/config.schema.json, the JSON Schema the package manifest points at.
import { mkdirSync, writeFileSync } from "node:fs";
import { configJsonSchema } from "@pulsar-connect/core";
import definition from "../src/index.ts";

const target = new URL("../dist/config.schema.json", import.meta.url);
mkdirSync(new URL("../dist/", import.meta.url), { recursive: true });
writeFileSync(target, `${JSON.stringify(configJsonSchema(definition.config), null, 2)}\n`);
