using System.CommandLine;
using KafScale.Admin;

namespace KafScale.Cli;

/// <summary><c>kafscale admin acls list|add|remove</c> (docs/security.md, "ACLs"); the work is in internal/Admin/AclAdmin.cs.</summary>
internal static partial class AdminCommand
{
    private static Command AclsCommand()
    {
        var acls = new Command("acls", "List, add and remove ACLs (brokers started with --authorizer acl apply them).");
        acls.Subcommands.Add(AclMode("list", "The ACLs matching the flags given (every ACL without flags).", AclAdmin.ListAsync));
        acls.Subcommands.Add(AclMode("add", "Add one ACL: --principal, --operation and one resource are required.", AclAdmin.AddAsync));
        acls.Subcommands.Add(AclMode("remove", "Remove the ACLs matching the flags given (--principal or a resource at least).", AclAdmin.RemoveAsync));
        return acls;
    }

    private static Command AclMode(string name, string description, Func<Client.KafkaClient, AdminOutput, AclSelection, CancellationToken, Task<int>> run)
    {
        var command = new Command(name, description);
        var principal = new Option<string>("--principal") { Description = "The principal, TYPE:NAME: User:alice, or User:* for every user" };
        var operation = new Option<string>("--operation") { Description = $"{string.Join("|", AclAdmin.OperationNames)}" };
        var topic = new Option<string>("--topic") { Description = "A topic (* for every topic)" };
        var group = new Option<string>("--group") { Description = "A consumer group (* for every group)" };
        var cluster = new Option<bool>("--cluster") { Description = "The cluster resource (kafka-cluster)" };
        var transactionalId = new Option<string>("--transactional-id") { Description = "A transactional id (* for every one)" };
        var prefixed = new Option<bool>("--prefixed") { Description = "The resource name is a prefix (PREFIXED pattern) rather than a whole name (LITERAL)" };
        var deny = new Option<bool>("--deny") { Description = "A DENY ACL rather than ALLOW (DENY wins over any ALLOW)" };
        var host = new Option<string>("--host") { Description = name == "add" ? "The client IP address the ACL applies to [default *: any host]" : "The host of the ACLs to match" };
        foreach (Option o in new Option[] { principal, operation, topic, group, cluster, transactionalId, prefixed, deny, host })
        {
            command.Options.Add(o);
        }

        Act(command, (parse, ctx, ct) => run(ctx.Client, ctx.Output, new AclSelection(
            parse.GetValue(principal), parse.GetValue(operation), parse.GetValue(topic), parse.GetValue(group), parse.GetValue(cluster),
            parse.GetValue(transactionalId), parse.GetValue(prefixed), parse.GetValue(deny), parse.GetValue(host)), ct));
        return command;
    }
}
