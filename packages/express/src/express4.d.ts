// The Express 4 copy installed under the alias `express4` (for the tests of both
// majors) has no types of its own; its surface is Express 5's for what the tests use.
declare module 'express4' {
  import express from 'express';
  export default express;
}
