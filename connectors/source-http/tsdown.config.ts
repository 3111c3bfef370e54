export { default } from "@pulsar-connect/tsconfig/tsdown";
