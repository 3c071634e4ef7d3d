/**
 * Stock levels, in memory: one instance per application, so every app (and every
 * test) starts from the same shelves.
 */
import { Injectable } from '@nestjs/common';
import { monitored } from '@prsm/decorators';
import { setTimeout as sleep } from 'node:timers/promises';
import { OutOfStockError, UnknownProductError } from './errors.js';

/** A product and how many of it. */
export interface OrderLine {
  readonly productId: string;
  readonly quantity: number;
}

const INITIAL_STOCK: Readonly<Record<string, number>> = {
  'p-100': 25,
  'p-101': 200,
  'p-102': 4,
  'p-200': 6,
  'p-201': 80,
  'p-202': 30,
  'p-300': 40,
  'p-301': 1,
};

// `@monitored` above `@Injectable()`: class decorators apply bottom-up, so Nest marks
// the class injectable first and ours then wraps every prototype method in place. The
// class itself (and its constructor metadata, which Nest's injector reads) is kept.
/** Reserves stock for orders, all lines or none. */
@monitored('inventory')
@Injectable()
export class InventoryRepository {
  readonly #stock = new Map(Object.entries(INITIAL_STOCK));

  /** Takes every line out of stock, or throws and takes nothing. */
  async reserve(lines: readonly OrderLine[]): Promise<void> {
    await sleep(1);
    for (const { productId, quantity } of lines) {
      const available = this.#stock.get(productId);
      if (available === undefined) throw new UnknownProductError(productId);
      if (available < quantity) throw new OutOfStockError(productId, quantity, available);
    }
    for (const { productId, quantity } of lines) {
      this.#stock.set(productId, this.#stock.get(productId)! - quantity);
    }
  }

  /** What is left of a product (undefined for a product the shop does not sell). */
  available(productId: string): number | undefined {
    return this.#stock.get(productId);
  }
}
