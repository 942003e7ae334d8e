// Installs resolve-hook.mjs (see there for why): `node --import <this file> script.mjs`.
import { register } from "node:module";

register("./resolve-hook.mjs", import.meta.url);
