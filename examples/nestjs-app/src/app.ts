/**
 * Builds the Nest application: what `main.ts` runs and what the end-to-end test
 * starts in process. Loads reflect-metadata before any decorated class is defined:
 * Nest's injector and the metadata copying of @prsm/decorators both need it then.
 */
import 'reflect-metadata';
import { type INestApplication, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type AppConfig, AppModule } from './app.module.js';

/** What {@link createApp} needs: the app's config and, optionally, Nest's log levels. */
export interface CreateAppOptions extends AppConfig {
  /** Nest's log levels; `false` silences Nest. Default: errors and warnings. */
  readonly logger?: false | LogLevel[];
}

/** The application, initialized but not listening yet. */
export async function createApp(options: CreateAppOptions): Promise<INestApplication> {
  const { logger = ['error', 'warn'], ...config } = options;
  return NestFactory.create(AppModule.register(config), { logger });
}
