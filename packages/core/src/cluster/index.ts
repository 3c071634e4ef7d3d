export { clusterAggregation } from './cluster.js';
export type { ClusterAggregation, ClusterChild, ClusterOptions, ClusterStats } from './cluster.js';
export type { GaugeRule } from './primary.js';
