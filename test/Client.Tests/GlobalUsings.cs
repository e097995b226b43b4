global using Xunit;
global using KafScale.TestSupport;
