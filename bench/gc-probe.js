// Preloaded into the many-clients server by bench/run.js (node --expose-gc --require this file):
// on SIGUSR2, a full garbage collection, then the heap figures on stdout. Without it the memory
// that server gains over a pass of new tokens is mostly garbage the load left and heap that V8
// grew on the way, not what the verified-token memo keeps. Nothing runs until the signal comes.
'use strict';
process.on('SIGUSR2', () => {
  global.gc();
  const { rss, heapTotal, heapUsed, external } = process.memoryUsage();
  process.stdout.write(`bench gc ${JSON.stringify({ rss, heapTotal, heapUsed, external })}\n`);
});
