/**
 * The expression language of `when` conditions and `compute` fields: a small, side-effect-free subset of the
 * Expression Language the upstream transforms use (`value.age > 18 && properties.region == 'eu'`,
 * `fn:concat(value.first, ' ', value.last)`). Expressions are compiled once, when the config is validated.
 */

/** What an expression can read. */
export interface ExpressionScope {
  value: unknown;
  key: unknown;
  messageKey: string | undefined;
  properties: Record<string, string>;
  topicName: string;
  destinationTopic: string | undefined;
  eventTime: number | undefined;
}

/** A compiled expression. */
export type Expression = (scope: ExpressionScope) => unknown;

/** A syntax error, with the position in the expression text. */
export class ExpressionError extends Error {
  override readonly name: string = "ExpressionError";
}

const ROOTS: ReadonlySet<string> = new Set([
  "value",
  "key",
  "messageKey",
  "properties",
  "topicName",
  "destinationTopic",
  "eventTime",
]);

type Token =
  | { kind: "number"; value: number; at: number }
  | { kind: "string"; value: string; at: number }
  | { kind: "name"; value: string; at: number }
  | { kind: "op"; value: string; at: number }
  | { kind: "end"; at: number };

const OPERATORS = [
  "==",
  "!=",
  "<=",
  ">=",
  "&&",
  "||",
  "<",
  ">",
  "!",
  "+",
  "-",
  "*",
  "/",
  "%",
  "(",
  ")",
  ",",
  ".",
  "[",
  "]",
];
const WORD_OPERATORS: Readonly<Record<string, string>> = {
  and: "&&",
  or: "||",
  not: "!",
  eq: "==",
  ne: "!=",
  lt: "<",
  gt: ">",
  le: "<=",
  ge: ">=",
  div: "/",
  mod: "%",
};

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let at = 0;
  while (at < text.length) {
    const char = text[at] as string;
    if (/\s/.test(char)) {
      at += 1;
      continue;
    }
    if (/[0-9]/.test(char)) {
      const match = /^[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(at)) as RegExpExecArray;
      tokens.push({ kind: "number", value: Number(match[0]), at });
      at += match[0].length;
      continue;
    }
    if (char === "'" || char === '"') {
      let end = at + 1;
      let value = "";
      while (end < text.length && text[end] !== char) {
        if (text[end] === "\\" && end + 1 < text.length) end += 1;
        value += text[end];
        end += 1;
      }
      if (end >= text.length) throw new ExpressionError(`unterminated string starting at ${at + 1}`);
      tokens.push({ kind: "string", value, at });
      at = end + 1;
      continue;
    }
    const name = /^(fn:)?[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(at));
    if (name) {
      const word = WORD_OPERATORS[name[0]];
      tokens.push(word ? { kind: "op", value: word, at } : { kind: "name", value: name[0], at });
      at += name[0].length;
      continue;
    }
    const op = OPERATORS.find((candidate) => text.startsWith(candidate, at));
    if (!op) throw new ExpressionError(`unexpected '${char}' at ${at + 1}`);
    tokens.push({ kind: "op", value: op, at });
    at += op.length;
  }
  tokens.push({ kind: "end", at });
  return tokens;
}

function isNullish(value: unknown): value is null | undefined {
  return value === null || value === undefined;
}

function toNumber(value: unknown): number {
  if (isNullish(value) || value === "") return 0;
  if (typeof value === "bigint") return Number(value);
  const number = Number(value);
  if (Number.isNaN(number)) throw new ExpressionError(`'${String(value)}' is not a number`);
  return number;
}

function toText(value: unknown): string {
  if (isNullish(value)) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function toBoolean(value: unknown): boolean {
  if (typeof value === "string") return value.toLowerCase() === "true";
  return Boolean(value);
}

function equals(a: unknown, b: unknown): boolean {
  if (isNullish(a) || isNullish(b)) return isNullish(a) && isNullish(b);
  if (typeof a === "boolean" || typeof b === "boolean") return toBoolean(a) === toBoolean(b);
  if (typeof a === "number" || typeof b === "number" || typeof a === "bigint" || typeof b === "bigint") {
    const left = Number(a);
    const right = Number(b);
    return !Number.isNaN(left) && !Number.isNaN(right) && left === right;
  }
  return toText(a) === toText(b);
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return toNumber(a) - toNumber(b);
}

const FUNCTIONS: Readonly<Record<string, { arity: [number, number]; call: (args: unknown[]) => unknown }>> = {
  "fn:concat": { arity: [1, 64], call: (args) => args.map(toText).join("") },
  "fn:uppercase": { arity: [1, 1], call: ([text]) => (isNullish(text) ? null : toText(text).toUpperCase()) },
  "fn:lowercase": { arity: [1, 1], call: ([text]) => (isNullish(text) ? null : toText(text).toLowerCase()) },
  "fn:trim": { arity: [1, 1], call: ([text]) => (isNullish(text) ? null : toText(text).trim()) },
  "fn:contains": { arity: [2, 2], call: ([text, part]) => toText(text).includes(toText(part)) },
  "fn:coalesce": { arity: [1, 64], call: (args) => args.find((arg) => !isNullish(arg)) ?? null },
  "fn:str": { arity: [1, 1], call: ([value]) => (isNullish(value) ? null : toText(value)) },
};

function member(target: unknown, name: unknown): unknown {
  if (isNullish(target) || typeof target !== "object") return null;
  const field = String(name);
  if (!Object.hasOwn(target, field)) return null;
  return (target as Record<string, unknown>)[field];
}

class Parser {
  private readonly tokens: Token[];
  private index = 0;

  constructor(text: string) {
    this.tokens = tokenize(text);
  }

  parse(): Expression {
    const expression = this.or();
    const next = this.peek();
    if (next.kind !== "end") throw new ExpressionError(`unexpected ${describe(next)} at ${next.at + 1}`);
    return expression;
  }

  private peek(): Token {
    return this.tokens[this.index] as Token;
  }

  private take(op?: string): boolean {
    const token = this.peek();
    if (token.kind === "op" && (op === undefined || token.value === op)) {
      this.index += 1;
      return true;
    }
    return false;
  }

  private expect(op: string): void {
    const token = this.peek();
    if (!this.take(op)) throw new ExpressionError(`expected '${op}' at ${token.at + 1}, found ${describe(token)}`);
  }

  private binary(
    next: () => Expression,
    ops: readonly string[],
    apply: (op: string, a: Expression, b: Expression) => Expression,
  ): Expression {
    let left = next();
    for (;;) {
      const token = this.peek();
      if (token.kind !== "op" || !ops.includes(token.value)) return left;
      this.index += 1;
      left = apply(token.value, left, next());
    }
  }

  private or(): Expression {
    return this.binary(
      () => this.and(),
      ["||"],
      (_op, a, b) => (scope) => toBoolean(a(scope)) || toBoolean(b(scope)),
    );
  }

  private and(): Expression {
    return this.binary(
      () => this.equality(),
      ["&&"],
      (_op, a, b) => (scope) => toBoolean(a(scope)) && toBoolean(b(scope)),
    );
  }

  private equality(): Expression {
    return this.binary(
      () => this.relation(),
      ["==", "!="],
      (op, a, b) => (op === "==" ? (scope) => equals(a(scope), b(scope)) : (scope) => !equals(a(scope), b(scope))),
    );
  }

  private relation(): Expression {
    return this.binary(
      () => this.additive(),
      ["<", ">", "<=", ">="],
      (op, a, b) => (scope) => {
        const left = a(scope);
        const right = b(scope);
        if (isNullish(left) || isNullish(right)) return false;
        const order = compare(left, right);
        return op === "<" ? order < 0 : op === ">" ? order > 0 : op === "<=" ? order <= 0 : order >= 0;
      },
    );
  }

  private additive(): Expression {
    return this.binary(
      () => this.multiplicative(),
      ["+", "-"],
      (op, a, b) =>
        op === "+"
          ? (scope) => toNumber(a(scope)) + toNumber(b(scope))
          : (scope) => toNumber(a(scope)) - toNumber(b(scope)),
    );
  }

  private multiplicative(): Expression {
    return this.binary(
      () => this.unary(),
      ["*", "/", "%"],
      (op, a, b) => (scope) => {
        const left = toNumber(a(scope));
        const right = toNumber(b(scope));
        return op === "*" ? left * right : op === "/" ? left / right : left % right;
      },
    );
  }

  private unary(): Expression {
    if (this.take("!")) {
      const operand = this.unary();
      return (scope) => !toBoolean(operand(scope));
    }
    if (this.take("-")) {
      const operand = this.unary();
      return (scope) => -toNumber(operand(scope));
    }
    return this.postfix();
  }

  private postfix(): Expression {
    let target = this.primary();
    for (;;) {
      if (this.take(".")) {
        const token = this.peek();
        if (token.kind !== "name") throw new ExpressionError(`expected a field name at ${token.at + 1}`);
        this.index += 1;
        const object = target;
        target = (scope) => member(object(scope), token.value);
      } else if (this.take("[")) {
        const object = target;
        const index = this.or();
        this.expect("]");
        target = (scope) => member(object(scope), index(scope));
      } else return target;
    }
  }

  private primary(): Expression {
    const token = this.peek();
    this.index += 1;
    switch (token.kind) {
      case "number":
      case "string": {
        const constant = token.value;
        return () => constant;
      }
      case "name":
        return this.name(token);
      case "op":
        if (token.value === "(") {
          const inner = this.or();
          this.expect(")");
          return inner;
        }
        break;
      case "end":
        break;
    }
    throw new ExpressionError(`unexpected ${describe(token)} at ${token.at + 1}`);
  }

  private name(token: Token & { kind: "name" }): Expression {
    const name = token.value;
    if (name === "true") return () => true;
    if (name === "false") return () => false;
    if (name === "null") return () => null;
    if (name.startsWith("fn:")) {
      const fn = FUNCTIONS[name];
      if (!fn) {
        throw new ExpressionError(`unknown function ${name} (known: ${Object.keys(FUNCTIONS).join(", ")})`);
      }
      this.expect("(");
      const args: Expression[] = [];
      if (!this.take(")")) {
        do args.push(this.or());
        while (this.take(","));
        this.expect(")");
      }
      const [min, max] = fn.arity;
      if (args.length < min || args.length > max) {
        throw new ExpressionError(
          `${name} takes ${min === max ? min : `${min} to ${max}`} argument(s), not ${args.length}`,
        );
      }
      return (scope) => fn.call(args.map((arg) => arg(scope)));
    }
    if (!ROOTS.has(name)) {
      throw new ExpressionError(`unknown name '${name}' at ${token.at + 1} (use ${[...ROOTS].join(", ")})`);
    }
    return (scope) => scope[name as keyof ExpressionScope];
  }
}

function describe(token: Token): string {
  return token.kind === "end" ? "the end" : `'${String(token.value)}'`;
}

/** Compiles an expression; throws an {@link ExpressionError} saying what is wrong and where. */
export function compileExpression(text: string): Expression {
  return new Parser(text).parse();
}

/** A `when` condition: true when the expression is true (or "true"). */
export function compileCondition(text: string): (scope: ExpressionScope) => boolean {
  const expression = compileExpression(text);
  return (scope) => toBoolean(expression(scope));
}
