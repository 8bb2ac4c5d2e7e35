// Preloaded with `node -r` into a server process: shifts its clock by AUTHSWITCH_TEST_CLOCK_SKEW_MS,
// to stand for an instance whose clock differs from the others'.
'use strict';
const skew = Number(process.env.AUTHSWITCH_TEST_CLOCK_SKEW_MS || 0);
const realNow = Date.now;
Date.now = () => realNow() + skew;
