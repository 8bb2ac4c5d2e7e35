// The baseline: a bare NestJS 11 app with the same public route and the same non-auth HTTP
// settings (helmet, JSON body parser, no X-Powered-By, no ETag) but no auth plumbing at all, so the
// benchmark shows whether the guard, sessions or tokens tax routes that do not use them.
require('reflect-metadata');
const express = require('express');
const helmet = require('helmet');
const { Controller, Get, Module } = require('@nestjs/common');
const { NestFactory } = require('@nestjs/core');

class HealthController {
  live() {
    return { status: 'ok' };
  }
}
Controller('health')(HealthController);
Get()(HealthController.prototype, 'live', Object.getOwnPropertyDescriptor(HealthController.prototype, 'live'));

class BareModule {}
Module({ controllers: [HealthController] })(BareModule);

NestFactory.create(BareModule, { logger: false, bodyParser: false, abortOnError: false })
  .then((app) => {
    app.disable('x-powered-by');
    app.set('etag', false);
    app.use(helmet());
    app.use(express.json({ limit: '100kb' }));
    // PORT=0 lets the system pick a free port; bench/run.js reads the real one from this line.
    return app.listen(Number(process.env.PORT ?? 0), '127.0.0.1');
  })
  .then((server) => console.log(`bare app listening on http://127.0.0.1:${server.address().port}`))
  .catch((error) => {
    // The logger is off, so say why here: the bench prints this if start-up fails.
    console.error(`bare app failed to start: ${error && error.stack ? error.stack : error}`);
    process.exit(1);
  });
