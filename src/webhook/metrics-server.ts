// The Prometheus endpoint, on its own plain-HTTP port: scrapers need no webhook CA, and the
// admission port serves nothing but admission and probes.
import { createServer, type Server } from 'node:http';
import { EXPOSITION_CONTENT_TYPE, type Registry } from './metrics.ts';

export function createMetricsServer(registry: Registry): Server {
  return createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      response
        .writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
        .end('not found: metrics are at /metrics\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response
        .writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
        .end('method not allowed\n');
      return;
    }
    const body = registry.render();
    response.writeHead(200, {
      'content-type': EXPOSITION_CONTENT_TYPE,
      'content-length': Buffer.byteLength(body),
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  });
}
