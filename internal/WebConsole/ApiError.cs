namespace KafScale.WebConsole;

/// <summary>A request the console refuses, with the HTTP status and the message the page shows.</summary>
public sealed class ApiError(int status, string message) : Exception(message)
{
    public int Status { get; } = status;

    public static ApiError BadRequest(string message) => new(400, message);

    public static ApiError NotFound(string message) => new(404, message);
}
