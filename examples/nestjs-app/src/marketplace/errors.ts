/**
 * marketplace/: the domain of the example (catalog, recommendations, orders) as Nest
 * providers and one controller, each method timed and traced by @prsm/decorators.
 * May import @nestjs/*, @prsm/decorators and ../http; never ../monitoring.
 *
 * This file: the domain's errors. They know nothing of HTTP; the exception filter
 * maps them to status codes, so the services stay usable outside a web request.
 */

/** A failure of the marketplace's rules, as opposed to a bug or an outage. */
export abstract class DomainError extends Error {
  /** The HTTP status the exception filter answers with. */
  abstract readonly status: number;

  constructor(message: string) {
    super(message);
    // `error.type` of operation.errors is the class name; `name` keeps logs in step.
    this.name = new.target.name;
  }
}

/** The user has no profile to recommend from. */
export class UnknownUserError extends DomainError {
  readonly status = 404;

  constructor(userId: string) {
    super(`unknown user ${userId}`);
  }
}

/** An order names a product the catalog does not sell. */
export class UnknownProductError extends DomainError {
  readonly status = 404;

  constructor(productId: string) {
    super(`unknown product ${productId}`);
  }
}

/** An order asks for more than is in stock. */
export class OutOfStockError extends DomainError {
  readonly status = 409;

  constructor(productId: string, requested: number, available: number) {
    super(`product ${productId}: ${requested} requested, ${available} in stock`);
  }
}
