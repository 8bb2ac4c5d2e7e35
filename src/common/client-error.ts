import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { errorBody } from './error-response';

/** Node's parser failures we can name; anything else is a malformed request (400). */
const CLIENT_ERRORS: Record<string, { status: number; message: string }> = {
  HPE_HEADER_OVERFLOW: { status: 431, message: 'Request headers too large' },
  HPE_CHUNK_EXTENSIONS_OVERFLOW: { status: 413, message: 'Chunk extensions too large' },
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, message: 'Request not received in time' },
};
const MALFORMED = { status: 400, message: 'Malformed HTTP request' };

/**
 * Errors the HTTP parser meets before Express sees a request (headers over the 16 kB limit, bad
 * request lines) are answered by Node with a bare status line and no body. This answers them in
 * the contract's JSON shape instead. The connection cannot be trusted any more, so it is closed.
 */
export function answerClientErrorsAsJson(server: Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    // Like Node's own handler: only write when nothing of a response is on the wire yet, or the
    // peer would read a second status line inside the first response.
    const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
    if (error.code !== 'ECONNRESET' && socket.writable && !inFlight?.headersSent) {
      const { status, message } = CLIENT_ERRORS[error.code ?? ''] ?? MALFORMED;
      const body = JSON.stringify(errorBody(status, message));
      socket.write(
        `HTTP/1.1 ${status} ${errorBody(status, '').error}\r\n` +
          'Content-Type: application/json; charset=utf-8\r\n' +
          `Content-Length: ${Buffer.byteLength(body)}\r\n` +
          'Cache-Control: no-store\r\n' +
          'X-Content-Type-Options: nosniff\r\n' +
          'Connection: close\r\n' +
          '\r\n' +
          body,
      );
    }
    // end() rather than destroy(): destroy() can discard the bytes just written. A timer
    // makes sure a peer that never reads does not keep the socket open.
    socket.end();
    setTimeout(() => socket.destroy(), 1000).unref();
  });
}
