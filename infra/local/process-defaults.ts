/**
 * Imported first by the runtime's entry points (main, demo), before any handler module: Powertools reads these at
 * construction time. Metrics are EMF lines for CloudWatch on AWS; on one machine they would only flood the terminal.
 * An explicit setting in the environment wins.
 */
process.env.POWERTOOLS_METRICS_DISABLED ??= 'true';
process.env.POWERTOOLS_LOG_LEVEL ??= 'WARN';
