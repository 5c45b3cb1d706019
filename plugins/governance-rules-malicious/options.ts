// The standard options of every pack made by defineRulePack (`disable`), defined once in the kernel.
export { RulePackOptions as Options } from 'limit-graph';
