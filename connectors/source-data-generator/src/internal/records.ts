/** The kinds of record the generator makes. */
export type RecordType = "people" | "orders";

/** A generated person. */
export interface Person {
  id: number;
  firstName: string;
  lastName: string;
  email: string;
  age: number;
  city: string;
  active: boolean;
}

/** A generated order. */
export interface Order {
  orderId: number;
  customerId: number;
  product: string;
  quantity: number;
  unitPrice: number;
  total: number;
  status: string;
}

const FIRST_NAMES = [
  "Ada",
  "Alan",
  "Barbara",
  "Charles",
  "Dennis",
  "Edsger",
  "Frances",
  "Grace",
  "Hedy",
  "Ken",
  "Leslie",
  "Margaret",
  "Niklaus",
  "Radia",
  "Tim",
  "Vint",
];
const LAST_NAMES = [
  "Lovelace",
  "Turing",
  "Liskov",
  "Shannon",
  "Ritchie",
  "Dijkstra",
  "Allen",
  "Hopper",
  "Lamarr",
  "Thompson",
  "Lamport",
  "Hamilton",
  "Wirth",
  "Perlman",
  "Berners-Lee",
  "Cerf",
];
const CITIES = [
  "Amsterdam",
  "Berlin",
  "Lisbon",
  "Madrid",
  "Nairobi",
  "Oslo",
  "Paris",
  "Prague",
  "Seoul",
  "Toronto",
  "Vienna",
  "Zurich",
];
const PRODUCTS = ["keyboard", "monitor", "mouse", "laptop", "headset", "webcam", "dock", "cable", "chair", "desk"];
const STATUSES = ["NEW", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"];

/** A 32-bit hash of a record number (splitmix-style mixing): the same number always gives the same record. */
function mix(n: number, salt: number): number {
  let x = (n ^ (salt * 0x9e3779b9)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

function pick<T>(list: readonly T[], n: number, salt: number): T {
  return list[mix(n, salt) % list.length] as T;
}

/** The person with number `id`. */
export function person(id: number): Person {
  const firstName = pick(FIRST_NAMES, id, 1);
  const lastName = pick(LAST_NAMES, id, 2);
  return {
    id,
    firstName,
    lastName,
    email: `${firstName}.${lastName}.${id}@example.com`.toLowerCase(),
    age: 18 + (mix(id, 3) % 70),
    city: pick(CITIES, id, 4),
    active: mix(id, 5) % 4 !== 0,
  };
}

/** The order with number `id`. */
export function order(id: number): Order {
  const quantity = 1 + (mix(id, 6) % 5);
  const unitPrice = (500 + (mix(id, 7) % 50_000)) / 100;
  return {
    orderId: id,
    customerId: 1 + (mix(id, 8) % 10_000),
    product: pick(PRODUCTS, id, 9),
    quantity,
    unitPrice,
    total: Math.round(quantity * unitPrice * 100) / 100,
    status: pick(STATUSES, id, 10),
  };
}

/** Avro-style record schemas, as Pulsar's JSON schema carries them. */
export const SCHEMAS: Record<RecordType, string> = {
  people: JSON.stringify({
    type: "record",
    name: "Person",
    fields: [
      { name: "id", type: "long" },
      { name: "firstName", type: "string" },
      { name: "lastName", type: "string" },
      { name: "email", type: "string" },
      { name: "age", type: "int" },
      { name: "city", type: "string" },
      { name: "active", type: "boolean" },
    ],
  }),
  orders: JSON.stringify({
    type: "record",
    name: "Order",
    fields: [
      { name: "orderId", type: "long" },
      { name: "customerId", type: "long" },
      { name: "product", type: "string" },
      { name: "quantity", type: "int" },
      { name: "unitPrice", type: "double" },
      { name: "total", type: "double" },
      { name: "status", type: "string" },
    ],
  }),
};
