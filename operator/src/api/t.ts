import { customResourceDefinition } from "./operator/src/api/crd.ts";
import { stringify } from "yaml";
console.log(stringify(customResourceDefinition()));
