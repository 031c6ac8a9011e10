// JSON bodies for the webhook and the runs API: 415 unless JSON, 413 over
// 1 MiB, 400 when unparsable. A bad request is never a 5xx (Alertmanager
// retries those).
import express, { type NextFunction, type Request, type Response } from 'express';

export const BODY_LIMIT_BYTES = 1024 * 1024;

export function jsonBody(onRejected: (outcome: string) => void) {
  // strict: false: a JSON number or null is valid JSON; the schema then says what was expected.
  const parse = express.json({ limit: BODY_LIMIT_BYTES, type: () => true, strict: false });
  return [
    (req: Request, res: Response, next: NextFunction): void => {
      // The header itself (req.is answers null for an empty body, which is a 400, not a 415).
      if (!/^application\/([\w.+-]+\+)?json\s*(;|$)/i.test(req.get('content-type') ?? '')) {
        onRejected('unsupported_media_type');
        res.status(415).json({
          status: 'unsupported media type',
          reason: 'send Content-Type: application/json',
        });
        return;
      }
      next();
    },
    parse,
    // body-parser reports its own errors here; answer them as the client's fault.
    (err: unknown, _req: Request, res: Response, next: NextFunction): void => {
      const type = (err as { type?: string }).type;
      if (type === 'entity.too.large') {
        onRejected('too_large');
        res
          .set('Connection', 'close')
          .status(413)
          .json({ status: 'too large', reason: `the body is over ${BODY_LIMIT_BYTES} bytes` });
        return;
      }
      if (type === 'entity.parse.failed') {
        onRejected('invalid');
        res.status(400).json({
          status: 'invalid',
          reason: `the body is not valid JSON (${(err as Error).message})`,
        });
        return;
      }
      // Any other client error body-parser reports (a corrupt gzip body, an unknown charset): its own 4xx.
      const status = (err as { status?: unknown }).status;
      if (typeof status === 'number' && status >= 400 && status < 500) {
        onRejected('invalid');
        res.status(status).json({
          status: 'invalid',
          reason: `the body cannot be read (${(err as Error).message})`,
        });
        return;
      }
      next(err);
    },
  ];
}
