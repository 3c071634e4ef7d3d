import { Monitor } from '@prsm/core';

console.log(`no benchmarks yet: ${typeof Monitor}`);
