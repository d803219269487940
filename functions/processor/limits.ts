/**
 * The processor Lambda's timeout, in one place: CDK deploys the function with it (and sizes the queue's visibility
 * timeout from it), and offboarding's settle wait (statemachines/offboarding.asl.json) must outlast a processor run
 * that read the customer's status just before the pause.
 */
export const PROCESSOR_TIMEOUT_SECONDS = 60;
