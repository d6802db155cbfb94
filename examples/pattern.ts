// The test pattern moved into the library (src/pattern/): import { TestPattern } from 'gst-skyline'.
// Kept so code that imported it from here keeps working.
export { TestPattern } from '../src/pattern/test-pattern.js';
