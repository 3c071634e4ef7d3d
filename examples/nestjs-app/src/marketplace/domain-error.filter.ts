/**
 * Maps the domain's errors to HTTP answers. The decorated methods have already counted
 * the failure (operation.errors, tagged with the error's class) and marked their spans
 * failed by the time the filter runs: it only shapes the response.
 */
import { type ArgumentsHost, Catch, type ExceptionFilter } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { DomainError } from './errors.js';

/** Answers a {@link DomainError} with its status and a JSON body in Nest's error shape. */
@Catch(DomainError)
export class DomainErrorFilter implements ExceptionFilter<DomainError> {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  catch(error: DomainError, host: ArgumentsHost): void {
    const body = { statusCode: error.status, error: error.name, message: error.message };
    this.adapterHost.httpAdapter.reply(host.switchToHttp().getResponse(), body, error.status);
  }
}
