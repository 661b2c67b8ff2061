// Rival learners (docs/rivals.md): RivalPopulation for the trainer, the learners for tests and tools.
export { RivalPopulation, curriculumBudgetScale, type RivalUpdateSummary, type GroupSummary, type RivalStrategy } from "./population.js";
export { QLearner, qState, qStates } from "./q_learning.js";
export { PolicyGradientLearner } from "./policy_gradient.js";
export { DefensiveLearner } from "./defensive.js";
export { RandomLearner, FixedLearner, type RivalLearner, type RivalLearnerKind, type LearnerState } from "./learner.js";
export { outcomeFeatures, band, type OutcomeFeatures } from "./outcome.js";
export { Rng } from "./rng.js";
