/**
 * http/: what sits between Nest's router and the marketplace: the API key guard and
 * the interceptor that opens one span per request. May import @nestjs/*,
 * @opentelemetry/api and @prsm/decorators; never ../marketplace or ../monitoring.
 *
 * This file: the guard. Guards run before interceptors, pipes and the handler, so a
 * rejected request never calls a decorated method and is never counted as a call.
 */
import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** The injection token of the API key clients must send in `x-api-key`. */
export const API_KEY = Symbol('API_KEY');

/** Lets a request through when its `x-api-key` header is the configured key; else 403. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  readonly #expected: Buffer;

  constructor(@Inject(API_KEY) apiKey: string) {
    this.#expected = Buffer.from(apiKey);
  }

  canActivate(context: ExecutionContext): boolean {
    const given = context.switchToHttp().getRequest<IncomingMessage>().headers['x-api-key'];
    if (typeof given !== 'string') return false;
    const buffer = Buffer.from(given);
    // Compared in constant time, so response timing says nothing about the key.
    return buffer.length === this.#expected.length && timingSafeEqual(buffer, this.#expected);
  }
}
