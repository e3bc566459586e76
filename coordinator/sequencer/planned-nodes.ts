// Pure: a node choice as the dry run's wire message.
import { create } from "@bufbuild/protobuf";
import { ExclusionReason, NodeSelectionSchema, type NodeSelection } from "../../shared/gen/fleetgate/v1/control_pb.js";
import type { ExclusionReason as Reason, NodeChoice } from "./node-choice.js";

const REASON: Record<Reason, ExclusionReason> = {
  label_mismatch: ExclusionReason.LABEL_MISMATCH,
  dev_node: ExclusionReason.DEV_NODE,
  offline: ExclusionReason.OFFLINE,
  not_named: ExclusionReason.NOT_NAMED,
  roles_filled: ExclusionReason.ROLES_FILLED,
  drained: ExclusionReason.DRAINED,
};

export function nodeSelection(choice: NodeChoice): NodeSelection {
  return create(NodeSelectionSchema, {
    chosen: choice.chosen.map((n) => ({ name: n.name, online: n.online, labels: n.labels })),
    excluded: choice.excluded.map((e) => ({ name: e.name, reason: REASON[e.reason], detail: e.detail })),
  });
}
