/**
 * Seeded random numbers for the benchmarks: every data set is reproducible from its
 * seed. sfc32 (a small, fast counting generator with a 128-bit state) seeded through
 * splitmix32; uniforms take 53 random bits; normals come from Box–Muller.
 */

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A seeded source of uniform and normal variates. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;
  #spare = NaN;

  constructor(seed: number) {
    const init = splitmix32(seed);
    this.#a = init();
    this.#b = init();
    this.#c = init();
    this.#d = init();
    for (let i = 0; i < 16; i++) this.#next32();
  }

  #next32(): number {
    const t = (((this.#a + this.#b) | 0) + this.#d) | 0;
    this.#d = (this.#d + 1) | 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) | 0;
    this.#c = (this.#c << 21) | (this.#c >>> 11);
    this.#c = (this.#c + t) | 0;
    return t >>> 0;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    const hi = this.#next32() >>> 5;
    const lo = this.#next32() >>> 6;
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal (Box–Muller, both outputs used). */
  normal(): number {
    if (!Number.isNaN(this.#spare)) {
      const z = this.#spare;
      this.#spare = NaN;
      return z;
    }
    const u1 = 1 - this.uniform(); // (0, 1]
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.#spare = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  /** exp(N(mu, sigma²)). */
  lognormal(mu: number, sigma: number): number {
    return Math.exp(mu + sigma * this.normal());
  }

  /** Pareto with shape alpha and scale xm: xm * U^(-1/alpha), U in (0, 1]. */
  pareto(alpha: number, xm: number): number {
    return xm * Math.pow(1 - this.uniform(), -1 / alpha);
  }
}

/** The distributions of the accuracy suite, by name. */
export interface Distribution {
  readonly name: string;
  readonly seed: number;
  readonly draw: (rng: Rng) => number;
}

export const LOGNORMAL: Distribution = {
  name: 'lognormal(μ=3, σ=1)',
  seed: 20_251_101,
  draw: (rng) => rng.lognormal(3, 1),
};

export const PARETO: Distribution = {
  name: 'Pareto(α=1.5, xm=1)',
  seed: 20_251_102,
  draw: (rng) => rng.pareto(1.5, 1),
};

export const BIMODAL: Distribution = {
  name: 'bimodal: 70% lognormal(3, 0.25) + 30% lognormal(5.5, 0.25)',
  seed: 20_251_103,
  draw: (rng) => (rng.uniform() < 0.7 ? rng.lognormal(3, 0.25) : rng.lognormal(5.5, 0.25)),
};

/** `n` draws of a distribution into a Float64Array. */
export function sample(
  distribution: Distribution,
  n: number,
  seed = distribution.seed,
): Float64Array {
  const rng = new Rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = distribution.draw(rng);
  return out;
}

/** `n` lognormal(3, 1) values: the value stream of the speed and memory suites. */
export function lognormalValues(n: number, seed: number): Float64Array {
  return sample(LOGNORMAL, n, seed);
}
