#!/usr/bin/python3
# Hostile callers of org.qharden.Agent1: several processes, each on its own bus
# connection, send random valid and invalid calls of every method and property
# (wrong signatures, oversized arrays and strings, unknown members, calls
# abandoned by closing the connection before the reply) and count what comes
# back. Every call must get a reply or a D-Bus error; a NoReply (the agent never
# answered within the timeout) or a dead agent is a failure.
#
#   dbus_hostile.py --address unix:path=... --seconds S | --calls N
#                   --workers W --seed SEED --rules id,id,... [--as-root]
#
# As root it never sends a valid Apply or Rollback: those would change the
# tree, and the test proves that nothing changes. Prints one JSON summary line.
import argparse
import json
import multiprocessing
import random
import sys
import time

import dbus
import dbus.bus
import dbus.exceptions
import dbus.lowlevel

DESTINATION = "org.qharden.Agent1"
PATH = "/org/qharden/Agent1"
INTERFACE = "org.qharden.Agent1"
PROPERTIES = ["Version", "Compliant", "LastAuditUsec", "FailingRules", "DriftEvents", "KeptChanges"]
REPLY_TIMEOUT_S = 60.0


def random_text(rng, longest):
    alphabet = "abcdefghijklmnopqrstuvwxyz.-_/ 0123456789\u00e9\u4e2d"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, longest)))


def bad_rule_ids(rng, rules):
    choice = rng.randrange(7)
    if choice == 0:
        return ["no.such-rule"]
    if choice == 1:
        return [rng.choice(rules)] * 65
    if choice == 2:
        return ["x" * 257]
    if choice == 3:
        return [random_text(rng, 40) + "!" for _ in range(rng.randint(1, 5))]
    if choice == 4:
        return [rng.choice(rules), "../" + random_text(rng, 10)]
    if choice == 5:
        return ["a"] * rng.randint(1000, 20000)  # oversized array of short strings
    return ["y" * rng.randint(4096, 262144)]  # one oversized string


def method_call(member, interface=INTERFACE, path=PATH):
    return dbus.lowlevel.MethodCallMessage(DESTINATION, path, interface, member)


def make_message(rng, rules, as_root):
    """Returns (kind, message)."""
    kind = rng.randrange(16)
    if kind == 0:  # a valid Audit of a random subset (any caller may)
        message = method_call("Audit")
        message.append(rng.sample(rules, rng.randint(1, min(3, len(rules)))), signature="as")
        return "audit-valid", message
    if kind == 1:
        message = method_call(rng.choice(["Audit", "Plan", "Apply"]))
        message.append(bad_rule_ids(rng, rules), signature="as")
        return "rules-invalid", message
    if kind == 2:  # wrong signatures
        member = rng.choice(["Audit", "Plan", "Apply", "Rollback", "GetReport"])
        message = method_call(member)
        shape = rng.randrange(6)
        if shape == 0:  # never "", which asks Rollback for the last change
            message.append(random_text(rng, 20) + "!", signature="s")
        elif shape == 1:
            message.append([rng.randint(-5, 5) for _ in range(rng.randint(0, 9))], signature="ai")
        elif shape == 2:
            message.append(("a", "b"), signature="(ss)")
        elif shape == 3:
            message.append(dbus.String("v"), signature="v")
        elif shape == 4:
            message.append([rng.choice(rules)], "extra", signature="as" + "s")
        return "wrong-signature", message
    if kind == 3:
        message = method_call("GetReport")
        return "get-report", message
    if kind == 4:
        message = method_call("Plan")
        message.append(rng.sample(rules, rng.randint(1, min(2, len(rules)))), signature="as")
        return "plan-valid", message
    if kind == 5:  # Rollback of ids that never name a change
        message = method_call("Rollback")
        message.append(rng.choice(["20991231T000000Z-ffff", "../../etc", "x" * 5000,
                                   random_text(rng, 30) + "/", "\u00e9" * 300]), signature="s")
        return "rollback-invalid", message
    if kind == 6 and not as_root:  # nobody: the real thing, refused by the policy
        message = method_call(rng.choice(["Apply", "Plan"]))
        message.append([rng.choice(rules)], signature="as")
        return "privileged-as-nobody", message
    if kind == 7 and not as_root:
        message = method_call("Rollback")
        message.append("", signature="s")
        return "privileged-as-nobody", message
    if kind in (6, 7, 8):  # properties
        message = method_call("Get", interface="org.freedesktop.DBus.Properties")
        message.append(INTERFACE, rng.choice(PROPERTIES + ["NoSuchProperty"]), signature="ss")
        return "property-get", message
    if kind == 9:
        message = method_call("GetAll", interface="org.freedesktop.DBus.Properties")
        message.append(rng.choice([INTERFACE, "org.example.None", ""]), signature="s")
        return "property-get-all", message
    if kind == 10:
        message = method_call("Set", interface="org.freedesktop.DBus.Properties")
        message.append(INTERFACE, rng.choice(PROPERTIES), dbus.Boolean(True, variant_level=1),
                       signature="ssv")
        return "property-set", message
    if kind == 11:
        message = method_call("Introspect", interface="org.freedesktop.DBus.Introspectable")
        return "introspect", message
    if kind == 12:
        message = method_call("Ping", interface="org.freedesktop.DBus.Peer")
        return "ping", message
    if kind == 13:
        message = method_call(rng.choice(["NoSuchMethod", "audit", "Apply2"]))
        return "unknown-method", message
    if kind == 14:
        message = method_call("Audit", interface="org.qharden.Nothing")
        message.append([], signature="as")
        return "unknown-interface", message
    message = method_call("Audit", path=rng.choice(["/org/qharden/Agent2", "/", "/org"]))
    message.append([], signature="as")
    return "unknown-path", message


def worker(index, options, results):
    rng = random.Random(options.seed * 1000 + index)
    rules = options.rules.split(",")
    tally = {"calls": 0, "replies": 0, "errors": {}, "kinds": {}, "no_reply": 0, "abandoned": 0,
             "failures": []}
    deadline = time.monotonic() + options.seconds if options.seconds else None
    connection = dbus.bus.BusConnection(options.address)
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            break
        if deadline is None and tally["calls"] >= options.calls:
            break
        kind, message = make_message(rng, rules, options.as_root)
        tally["calls"] += 1
        tally["kinds"][kind] = tally["kinds"].get(kind, 0) + 1
        if rng.randrange(50) == 0:  # abandon: send, then hang up before the reply
            connection.send_message(message)
            connection.close()
            tally["abandoned"] += 1
            connection = dbus.bus.BusConnection(options.address)
            continue
        try:
            connection.send_message_with_reply_and_block(message, REPLY_TIMEOUT_S)
            tally["replies"] += 1
        except dbus.exceptions.DBusException as error:
            name = error.get_dbus_name() or "unnamed"
            if name == "org.freedesktop.DBus.Error.NoReply":
                tally["no_reply"] += 1
                tally["failures"].append("%s: no reply within %d s" % (kind, REPLY_TIMEOUT_S))
            elif name in ("org.freedesktop.DBus.Error.ServiceUnknown",
                          "org.freedesktop.DBus.Error.NameHasNoOwner",
                          "org.freedesktop.DBus.Error.Disconnected"):
                tally["failures"].append("%s: %s (the agent is gone?)" % (kind, name))
                break
            else:
                tally["errors"][name] = tally["errors"].get(name, 0) + 1
                if tally["errors"][name] <= 3:
                    print("%s -> %s: %s" % (kind, name, str(error)[:300]), file=sys.stderr)
    connection.close()
    results.put(tally)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--address", required=True)
    parser.add_argument("--seconds", type=float, default=0)
    parser.add_argument("--calls", type=int, default=1000, help="per worker, when --seconds is 0")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--rules", required=True)
    parser.add_argument("--as-root", action="store_true")
    options = parser.parse_args()
    print("seed %d" % options.seed, file=sys.stderr)
    results = multiprocessing.Queue()
    processes = [multiprocessing.Process(target=worker, args=(index, options, results))
                 for index in range(options.workers)]
    started = time.monotonic()
    for process in processes:
        process.start()
    tallies = [results.get() for _ in processes]
    for process in processes:
        process.join()
    total = {"seed": options.seed, "seconds": round(time.monotonic() - started, 1), "calls": 0,
             "replies": 0, "no_reply": 0, "abandoned": 0, "errors": {}, "kinds": {}, "failures": []}
    for tally in tallies:
        for key in ("calls", "replies", "no_reply", "abandoned"):
            total[key] += tally[key]
        for group in ("errors", "kinds"):
            for name, count in tally[group].items():
                total[group][name] = total[group].get(name, 0) + count
        total["failures"] += tally["failures"][:20]
    print(json.dumps(total, sort_keys=True))
    return 1 if total["failures"] or any(p.exitcode != 0 for p in processes) else 0


if __name__ == "__main__":
    sys.exit(main())
