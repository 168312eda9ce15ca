export { VlacError } from './errors.js';
export type { VlacErrorCode } from './errors.js';
