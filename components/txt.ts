/** TXT content: components/records/txt.ts (kept at this path for its importers). */
export { TXT_CHUNK_BYTES, txtChunks, quoteTxt, unquoteTxt } from "./records/txt";
