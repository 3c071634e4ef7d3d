/**
 * The catalog and the users' purchase histories, in memory. The short sleeps stand in
 * for a database round trip: the spans of the callers must survive the `await`.
 */
import { Injectable } from '@nestjs/common';
import { monitorPerformance } from '@prsm/decorators';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnknownUserError } from './errors.js';

/** A product the marketplace sells. */
export interface Product {
  readonly id: string;
  readonly name: string;
  readonly category: string;
  readonly priceCents: number;
}

const PRODUCTS: readonly Product[] = [
  { id: 'p-100', name: 'Trail running shoes', category: 'running', priceCents: 12_900 },
  { id: 'p-101', name: 'Running socks (3 pairs)', category: 'running', priceCents: 1_500 },
  { id: 'p-102', name: 'Hydration vest', category: 'running', priceCents: 8_900 },
  { id: 'p-200', name: 'Espresso grinder', category: 'coffee', priceCents: 24_900 },
  { id: 'p-201', name: 'Single-origin beans, 1 kg', category: 'coffee', priceCents: 3_200 },
  { id: 'p-202', name: 'Milk frothing jug', category: 'coffee', priceCents: 1_900 },
  { id: 'p-300', name: 'Headlamp', category: 'outdoor', priceCents: 4_500 },
  { id: 'p-301', name: 'Ultralight tent', category: 'outdoor', priceCents: 39_900 },
];

const HISTORIES: ReadonlyMap<string, readonly string[]> = new Map([
  ['u-1', ['p-100', 'p-201']],
  ['u-2', ['p-200']],
  ['u-3', ['p-300', 'p-101']],
]);

/** Products and purchase histories, as a repository over a slow store would serve them. */
@Injectable()
export class CatalogRepository {
  readonly #byId = new Map(PRODUCTS.map((p) => [p.id, p]));

  /** Products the user has not bought yet, with the categories they bought from. */
  @monitorPerformance('catalog', 'find_candidates')
  async findCandidates(
    userId: string,
  ): Promise<{ candidates: Product[]; categories: ReadonlySet<string> }> {
    await sleep(2);
    const history = HISTORIES.get(userId);
    if (history === undefined) throw new UnknownUserError(userId);
    const bought = new Set(history);
    return {
      candidates: PRODUCTS.filter((p) => !bought.has(p.id)),
      categories: new Set(history.map((id) => this.#byId.get(id)?.category ?? '')),
    };
  }

  /** The product, or undefined when the catalog does not sell it. */
  product(id: string): Product | undefined {
    return this.#byId.get(id);
  }
}
