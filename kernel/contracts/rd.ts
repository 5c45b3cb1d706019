import type { z } from 'zod';

/** An attributed graph for FGW: node features and (optionally weighted) edges. */
export interface AttributedGraph {
  nodes: { id: string; features: number[]; weight?: number }[];
  edges: { source: string; target: string; weight?: number }[];
  directed?: boolean;
}

/**
 * Options of one distortion computation; what is not given comes from the algorithm's defaults.
 * For FGW, `alpha` weights the structure term (0: optimal transport on the features alone, 1:
 * Gromov–Wasserstein), `method` picks the exact or the entropic solver, `epsilon` is the entropic
 * regularisation and `maxIter` caps the iterations.
 */
export interface DistortionOptions {
  alpha?: number;
  method?: 'exact' | 'entropic';
  epsilon?: number;
  maxIter?: number;
  /**
   * Wall-clock limit of the computation in ms. Algorithms that honour it (rd-fgw does) stop past it
   * with LIMIT_RD_NOT_CONVERGED; others may ignore it.
   */
  timeLimitMs?: number;
}

/**
 * A distortion between two graphs: its value, the coupling (plan) of source and target nodes that
 * gives it, and how the solver ended.
 */
export interface DistortionResult {
  value: number;
  iterations: number;
  converged: boolean;
  /** Sparse coupling [i, j, mass]. */
  plan: [number, number, number][];
}

/** Options of {@link RdAlgorithm.distortionAsync}: the synchronous ones plus a way to stop early. */
export interface AsyncDistortionOptions extends DistortionOptions {
  /**
   * Stops the computation when aborted (a client that hung up, a caller that gave up): the promise
   * rejects with LIMIT_RD_ABORTED and the algorithm should release what it holds (rd-fgw ends the
   * worker thread that computes it). An already aborted signal rejects without computing.
   */
  signal?: AbortSignal;
}

/**
 * A distortion measure between two graphs (`rd:<name>` in the container). Rates are a RateModel, under `rate:<name>`.
 *
 * `distortion` is required and synchronous: it runs on the caller's thread until it returns. An
 * algorithm may also provide `distortionAsync`, the same computation done without blocking the
 * caller's thread (a worker thread, another process); servers and the orchestrator use it when it is
 * there and fall back to `distortion` otherwise — `measureDistortion` (exported by `limit-graph`) makes that choice.
 */
export interface RdAlgorithm {
  readonly name: string;
  distortion(source: AttributedGraph, target: AttributedGraph, options?: DistortionOptions): DistortionResult;
  /**
   * Optional: the result `distortion` would give for the same arguments (same value, plan and
   * errors — a LimitError arrives as the same code, message, details and fix), computed off the
   * caller's thread, so that an HTTP server keeps answering while it runs. `options.timeLimitMs`
   * bounds the computation itself; time spent waiting for a free worker is not counted.
   */
  distortionAsync?(source: AttributedGraph, target: AttributedGraph, options?: AsyncDistortionOptions): Promise<DistortionResult>;
  /**
   * Optional: throws the LimitError `distortion` would give for `graph` as its source (fields named
   * `source.…`) or for `options`, without measuring anything — so that a graph that can never be
   * measured (duplicate ids, edges to unknown nodes, ragged features) or impossible options are
   * refused where they are given (the orchestrator checks an RD series' reference at creation).
   */
  validate?(graph: AttributedGraph, options?: DistortionOptions): void;
}

/** A knee detector's answer. */
export interface KneeResult {
  /** Index into the caller's points, or null when there is no knee. */
  index: number | null;
}

/** A knee detector (`knee:<name>` in the container). */
export interface KneeDetector {
  readonly name: string;
  detect(points: { x: number; y: number }[], options?: Record<string, unknown>): KneeResult;
  /**
   * Optional: the schema of the per-call options `detect` takes (`callOptionsSchema(<the plugin's
   * options>)`: every key optional, none defaulted, unknown keys refused). Callers that take options
   * from users check them against it before calling — `POST /rd/knee` answers an option the detector
   * lacks with 400 naming `body.options.<key>`. A detector without it takes no per-call options there.
   */
  readonly callOptions?: z.ZodObject;
}

/**
 * Rates, in bits unless an operational unit says otherwise (`rate:<name>` in the container). A rate
 * model is not a distortion measure: it never compares graphs, so it has its own key family and
 * does not sit under `rd:*`.
 */

/** Divisor of the variance estimator: n − ddof. 0 = mean of squared deviations (ML), 1 = unbiased. */
export type VarianceDdof = 0 | 1;

/** σ² estimated from samples (`RateModel.variance`), with the sample count, mean and divisor used. */
export interface VarianceEstimate {
  n: number;
  mean: number;
  variance: number;
  ddof: VarianceDdof;
}

/** A Gaussian source under squared error: σ² given, or estimated from samples (ddof from the model's defaults unless given). */
export type GaussianSource = { variance: number } | { samples: ArrayLike<number>; ddof?: VarianceDdof };

/** A discrete memoryless source with an arbitrary distortion matrix. */
export interface DiscreteSource {
  /** Source distribution (sums to 1). */
  p: ArrayLike<number>;
  /** Distortion matrix d[x][j] ≥ 0, m source symbols × k reproduction symbols. */
  distortion: ArrayLike<ArrayLike<number>>;
}

/** When Blahut–Arimoto stops, for each point of an R(D) curve. */
export interface BlahutArimotoOptions {
  /** Stop when R − R_L (Blahut's certified lower bound) is below this many bits. */
  tol?: number;
  /** Iteration cap per point. */
  maxIter?: number;
  /** Starting output marginal (default uniform). */
  q0?: ArrayLike<number>;
}

/** One point of a discrete source's R(D) curve, for slope parameter β (natural exponent). */
export interface BlahutArimotoPoint {
  beta: number;
  /** −β/ln 2: slope of R(D) in bits per unit of distortion. */
  slopeBits: number;
  D: number;
  /** Mutual information of the test channel, bits. */
  R: number;
  /** Blahut's lower bound, bits. */
  Rlower: number;
  gapBits: number;
  iterations: number;
  converged: boolean;
  /** Output marginal q of the channel. */
  q: number[];
}

/** R(D) of a discrete source at a target distortion. */
export interface RateAtDistortion {
  D: number;
  R: number;
  beta: number;
  /** D of the channel finally used (equals D up to the search's tolerance). */
  Dreached: number;
  gapBits: number;
  evaluations: number;
  /** 'D>=Dmax': R = 0 without iterating; 'D=Dmin': the smallest reachable distortion. */
  note?: 'D>=Dmax' | 'D=Dmin';
}

/**
 * Unit of a rate: `bits` for an information rate, or an operational unit (tokens, bytes, cost,
 * seconds, or a name of your own).
 */
export type RateUnit = 'bits' | 'tokens' | 'bytes' | 'cost' | 'seconds' | (string & {});

/** What a refinement step actually spent, kept as given (no conversion to bits). */
export interface OperationalRate {
  value: number;
  unit: RateUnit;
}

/**
 * A rate model's defaults (its plugin's options): the variance divisor, Blahut–Arimoto's tolerance
 * and iteration cap, and the unit of operational rates given without one.
 */
export interface RateModelDefaults {
  ddof: VarianceDdof;
  tol: number;
  maxIter: number;
  /** Unit recorded for operational rates given without one. */
  unit: RateUnit;
}

/**
 * A rate model (`rate:<name>`). Invalid input (D < 0, R < 0, a p that does not sum to 1, a negative
 * or non-finite distortion entry, D below the source's D_min) is a LIMIT_RD_INVALID_INPUT naming the
 * field, never NaN.
 */
export interface RateModel {
  readonly name: string;
  readonly defaults: Readonly<RateModelDefaults>;
  /** σ² of samples, with `ddof` (default: the model's). */
  variance(samples: ArrayLike<number>, ddof?: VarianceDdof): VarianceEstimate;
  /** Gaussian R(D) = max(0, ½·log2(σ²/D)) bits; D = 0 gives +∞ (0 when σ² = 0). */
  gaussianRate(D: number, source: GaussianSource): number;
  /** Gaussian D(R) = σ²·2^(−2R), R in bits; R = +∞ gives 0. */
  gaussianDistortion(R: number, source: GaussianSource): number;
  /**
   * Blahut–Arimoto: one point of the R(D) curve for slope parameter β ≥ 0. `options` (here and in
   * rateAtDistortion, curve) override only the keys they give; the model's defaults fill the rest.
   */
  blahutArimoto(source: DiscreteSource, beta: number, options?: BlahutArimotoOptions): BlahutArimotoPoint;
  /** R(D) at a target distortion; 0 for D ≥ D_max. */
  rateAtDistortion(source: DiscreteSource, D: number, options?: BlahutArimotoOptions): RateAtDistortion;
  /** Points of the R(D) curve, one per β. */
  curve(source: DiscreteSource, betas: readonly number[], options?: BlahutArimotoOptions): BlahutArimotoPoint[];
  /** An operational rate (tokens, bytes, cost…): checked finite and ≥ 0, kept as given. */
  operational(value: number, unit?: RateUnit): OperationalRate;
}
