// Labeler home: when new work may be there ({"type": "work"} on
// /ws/labeler/), fetch /api/labeler/home/ again and re-render the jobs,
// the audiences to qualify for and the memberships (text only). While the
// socket is down, the lists are fetched every 30 s.

import { call } from "./api.js";
import { h } from "./dom.js";
import { liveSocket } from "./live-socket.js";

const lists = {
  jobs: document.querySelector('[data-home="jobs"]'),
  audiences: document.querySelector('[data-home="audiences"]'),
  memberships: document.querySelector('[data-home="memberships"]'),
};
const id = encodeURIComponent;
const fixed2 = (value) => Number(value).toFixed(2);

function jobCard(job) {
  return h("li", { class: "card job" }, [
    h("h3", {}, [job.name]),
    h("p", { class: "meta" }, [h("span", { class: "badge" }, [job.kind]), ` ${job.audience}`]),
    h("p", { class: "instruction" }, [job.instruction]),
    h("a", { class: "button primary", href: `/jobs/${id(job.id)}/work/` }, ["Start"]),
  ]);
}

function audienceCard(audience) {
  return h("li", { class: "card audience" }, [
    h("h3", {}, [audience.name]),
    h("p", { class: "meta" }, [h("span", { class: "badge" }, [audience.kind])]),
    audience.description ? h("p", { class: "description" }, [audience.description]) : null,
    h("a", { class: "button primary", href: `/audiences/${id(audience.id)}/qualify/` }, ["Qualify"]),
  ]);
}

function membershipRow(membership) {
  const { audience } = membership;
  const state = audience.kind === "global" ? "member" : membership.state;
  const link = membership.state === "qualifying"
    ? h("a", { href: `/audiences/${id(audience.id)}/qualify/` }, ["Continue qualifying"]) : null;
  return h("tr", { class: `state-${membership.state}` }, [
    h("th", { scope: "row" }, [audience.name]),
    h("td", {}, [audience.kind]),
    h("td", {}, [h("span", { class: "state" }, [state])]),
    h("td", {}, [fixed2(membership.user_score)]),
    h("td", {}, [String(membership.answers)]),
    h("td", {}, [link]),
  ]);
}

function cardsOr(items, render, empty) {
  return items.length ? h("ul", { class: "cards" }, items.map(render)) : h("p", { class: "muted" }, [empty]);
}

export function renderHome(home) {
  lists.jobs.replaceChildren(cardsOr(home.jobs, jobCard,
    "No work for you right now. Qualify for more audiences below, or come back later."));
  lists.audiences.replaceChildren(cardsOr(home.audiences_to_qualify, audienceCard,
    "No audiences are open to you right now."));
  lists.memberships.replaceChildren(...(home.memberships.length ? home.memberships.map(membershipRow)
    : [h("tr", {}, [h("td", { colspan: "6", class: "muted" }, ["None yet."])])]));
  document.body.dataset.homeUpdates = String(Number(document.body.dataset.homeUpdates || 0) + 1);
}

let loading = null;
let again = false;

// One fetch at a time; a notice during a fetch triggers one more after it.
async function refresh() {
  if (loading) {
    again = true;
    return loading;
  }
  loading = call("GET", "/api/labeler/home/")
    .then(renderHome)
    .catch(() => {}) // keep what is shown; the next notice or poll tries again
    .finally(() => {
      loading = null;
      if (again) {
        again = false;
        refresh();
      }
    });
  return loading;
}

if (lists.jobs && lists.audiences && lists.memberships) {
  liveSocket("/ws/labeler/", {
    onMessage: (message) => {
      if (message.type === "work") refresh();
    },
    onStatus: ({ connected, reconnected }) => {
      document.body.dataset.live = connected ? "connected" : "polling";
      if (reconnected) refresh(); // notices may have been missed while it was down
    },
    poll: refresh,
    pollEvery: 30_000,
  });
}
