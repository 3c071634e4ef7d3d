/**
 * Orders: price the lines from the catalog, reserve the stock, hand back a receipt.
 */
import { Injectable } from '@nestjs/common';
import { monitored } from '@prsm/decorators';
import { CatalogRepository } from './catalog.repository.js';
import { UnknownProductError } from './errors.js';
import { InventoryRepository, type OrderLine } from './inventory.repository.js';

/** What a client orders. */
export interface OrderRequest {
  readonly userId: string;
  readonly items: readonly OrderLine[];
}

/** What an accepted order returns. */
export interface OrderReceipt {
  readonly orderId: string;
  readonly userId: string;
  readonly status: 'accepted';
  readonly totalCents: number;
}

// `@Injectable()` above `@monitored`: ours wraps the methods first, then Nest marks
// the class; the order does not matter to either.
/** Places orders against the catalog and the inventory. */
@Injectable()
@monitored('orders')
export class OrdersService {
  #lastOrder = 0;

  constructor(
    private readonly catalog: CatalogRepository,
    private readonly inventory: InventoryRepository,
  ) {}

  /** Prices and reserves the order; throws a domain error (and reserves nothing) if it cannot. */
  async placeOrder(order: OrderRequest): Promise<OrderReceipt> {
    const totalCents = this.price(order.items);
    await this.inventory.reserve(order.items);
    this.#lastOrder += 1;
    return {
      orderId: `o-${String(this.#lastOrder).padStart(6, '0')}`,
      userId: order.userId,
      status: 'accepted',
      totalCents,
    };
  }

  /** The order's total; throws for a product the catalog does not sell. */
  price(items: readonly OrderLine[]): number {
    let total = 0;
    for (const { productId, quantity } of items) {
      const product = this.catalog.product(productId);
      if (product === undefined) throw new UnknownProductError(productId);
      total += product.priceCents * quantity;
    }
    return total;
  }
}
